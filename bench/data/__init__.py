"""Step 1-2 of the pipeline: datasets' images and labels, fixed split protocols, the Kaggle layout and image caches."""
