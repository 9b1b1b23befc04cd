"""Physics datasets: Pythia 8 events as two-layer calorimeter images with truth jets and pile-up.

`codesign.data.generate.generate` writes a dataset (HDF5 shards + card.json);
`codesign.data.reader.Dataset` streams it back in train/val/test batches. See docs/data.md.
"""
