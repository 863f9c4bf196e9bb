"""MediaPipe BlazePose GHUM (full) as a poselift detector: 33 landmarks in frame pixels and BlazePose's own
single-frame 3D (world landmarks, metres) for every person, tracked between frames.

Modules:

* :mod:`~poselift.detectors.blazepose.decode`: anchors, detection decoding, weighted NMS, landmarks, heatmap
  refinement (numpy only);
* :mod:`~poselift.detectors.blazepose.regions`: rotated regions of interest and the maps in and out of them;
* :mod:`~poselift.detectors.blazepose.net`: :class:`BlazePose`, the two networks through LiteRT (the optional
  extra ``poselift[blazepose]``; imported only when a model is opened);
* :mod:`~poselift.detectors.blazepose.weights`: the two ``.tflite`` files out of a ``mediapipe`` wheel, checked
  by SHA-256 (``poselift models extract``); nothing is downloaded at run time;
* :mod:`~poselift.detectors.blazepose.accuracy`: PCK against COCO keypoint ground truth.

Layout ``blazepose33`` (and its conversions to ``coco17`` and ``h36m17``) is in :mod:`poselift.core.layouts`.
"""
from poselift.detectors.blazepose.net import BlazePose, BlazePosePeople, BlazePoseSettings

__all__ = ["BlazePose", "BlazePosePeople", "BlazePoseSettings"]
