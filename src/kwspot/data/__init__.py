"""Data layer: find clips, split by speaker, label, decode once into an int16 cache, augment."""
