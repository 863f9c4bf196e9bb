"""Datasets: Human3.6M, any dataset in VideoPose3D's npz format, synthetic motion, and the protocols and splits
that say how an experiment uses them."""
