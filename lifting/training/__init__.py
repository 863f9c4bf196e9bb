"""Training the lifter: windows, losses, the one training loop, several processes.

* :mod:`~poselift.training.windows`: :class:`~poselift.training.windows.WindowBank`, training windows gathered by index;
* :mod:`~poselift.training.losses`: supervised and semi-supervised loss terms, functions of tensors;
* :mod:`~poselift.training.flip_modes`: what an epoch holds with flip augmentation (:data:`FLIP_MODES`);
* :mod:`~poselift.training.trainer`: :class:`~poselift.training.trainer.Trainer` and
  :class:`~poselift.training.trainer.TrainSettings`;
* :mod:`~poselift.training.distributed`: torchrun / DistributedDataParallel helpers.
"""
