"""The lowest layer: plain types and rules every other part of poselift builds on.

Nothing here imports from the rest of the package:

* :mod:`~poselift.core.errors`: the error hierarchy and input checks;
* :mod:`~poselift.core.layouts`: joint layouts and conversions between them;
* :mod:`~poselift.core.camera`: cameras, screen normalisation, projection;
* :mod:`~poselift.core.sequence`: :class:`~poselift.core.sequence.PoseSequence`, one person seen by one camera;
* :mod:`~poselift.core.io`: atomic file writing, JSON;
* :mod:`~poselift.core.backend`: one torch implementation serving numpy callers.
"""
