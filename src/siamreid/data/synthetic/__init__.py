"""The synthetic data generators: a Market-1501-style set (``market``) and MOTChallenge sequences
(``mot``), drawn with the figures of ``_figures``. Import them from :mod:`siamreid.data`.
"""
