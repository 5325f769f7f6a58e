"""Datasets: webdataset shards of videos and their metadata."""
