"""Offline generators of the data bundled with the packages, run from a checkout.

Not installed (setuptools' package list leaves ``tools`` out) and never imported at
run time: ``python -m tools.build_sample`` rebuilds ``providers/sample/data`` and
``python -m tools.build_sample_clouds`` the Azure and GCP sample bills, both from
``shared/data``.
"""
