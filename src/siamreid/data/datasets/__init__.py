"""The benchmark adapters: one module per dataset, each reading its folder into ReidSplits.

Market-1501 (``market1501``), DukeMTMC-reID (``dukemtmc``), MSMT17 (``msmt17``), CUHK03-NP
(``cuhk03np``; the Market-style naming rules they share are ``_market_style``), MOTChallenge
(``mot``, with its file format ``_mot_format``, folder layout ``_mot_layout``, options
``_mot_options`` and crop cache ``_mot_crops``), users' own folders (``folder``), the counts of
the published releases (``published``) and the layout probes that tell datasets apart
(``_detect``). A new benchmark is one
module here and one entry in :mod:`siamreid.data.registry`. Import the adapters from
:mod:`siamreid.data`; this package imports none of them, so naming a dataset stays cheap.
"""
