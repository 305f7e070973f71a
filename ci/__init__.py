"""Build pipeline for the TensorFlow development image family (Dagger SDK)."""
