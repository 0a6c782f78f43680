"""Load: producer and consumer instances started behind one barrier, their output kept."""
