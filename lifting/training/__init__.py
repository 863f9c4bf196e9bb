"""Training the lifter: windows, losses, the one training loop, several processes.

* :mod:`~poselift.training.window_bank`: :class:`~poselift.training.window_bank.WindowBank`, training windows gathered by index;
* :mod:`~poselift.training.losses`: supervised and semi-supervised loss terms, functions of tensors;
* :mod:`~poselift.training.epoch_rules`: what an epoch holds and in which order (:data:`FLIP_MODES`, :data:`WINDOW_ORDERS`);
* :mod:`~poselift.training.trainer`: :class:`~poselift.training.trainer.Trainer` and
  :class:`~poselift.training.trainer.TrainSettings`;
* :mod:`~poselift.training.distributed`: torchrun / DistributedDataParallel helpers.
"""
