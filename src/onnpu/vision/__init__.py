"""Images to tensors and scores to classes: decoding, preprocessing presets, labels, classifier scores, the
``classify`` verb and the folder pipeline."""
