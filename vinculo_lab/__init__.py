"""The evaluation lab: synthetic registries, the evaluation pipeline and attack support.

Nothing here runs at an institution or in the service: ``client_sdk`` and ``linkage_service``
never import it (tests/test_layers.py pins that). The CLI's ``synth``, ``evaluate`` and
``demo`` commands and the benchmarks use it.
"""
