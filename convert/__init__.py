"""Conversion: quantized TFLite models, their manifest and parity report."""
