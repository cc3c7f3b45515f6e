"""trw_models: training, scoring and serving of trw's runaway detectors.

Datasets come from `trw export` (schemas/export-npz.md); weights are written as
safetensors with a JSON config beside them (weights.py); every trained model can
be served to `trw predict` / `trw score` over the replay protocol (serve.py,
schemas/predictor-protocol.md).
"""
__version__ = "0.1.0"
