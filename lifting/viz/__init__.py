"""Pictures: static plots, animations, and reading/writing video.

* :mod:`~poselift.viz.plots`: skeletons in 2D and 3D, error over time, per-action bars;
* :mod:`~poselift.viz.animation`: 2D over video beside 3D skeletons, as MP4 or GIF;
* :mod:`~poselift.viz.video`: video frames in (PyAV) and out (PyAV, Pillow).
"""
