"""``python -m siamreid``: the same as the ``siamreid`` command."""

from siamreid.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
