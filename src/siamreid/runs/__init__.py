"""The application layer: a training run from a recipe, its report, its folder, and the demo.

Like :mod:`siamreid.cli`, it sits on top and may import every other subpackage; nothing in
``data``, ``models``, ``evaluation``, ``retrieval`` or ``training`` imports it.
"""
