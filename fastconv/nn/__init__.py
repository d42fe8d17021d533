"""fastconv.nn: layers, losses, optimizers and the Model training loop, on NHWC
batches, built on fastconv's kernels."""
from .init import seed
from .layers import (AvgPool2D, BatchNorm2D, Concat, Conv2D, Conv2DTranspose, Dense, Dropout,
                     Flatten, GlobalAvgPool2D, Layer, LeakyReLU, MaxPool2D, ReLU, Residual, Sequential,
                     Sigmoid, Tanh, layer_from_config)
from .losses import (BinaryCrossEntropy, Loss, MeanSquaredError, SoftmaxCrossEntropy,
                     register_loss)
from .model import Model
from .optim import SGD, Adam, Optimizer

__all__ = ["seed", "Layer", "Conv2D", "Conv2DTranspose", "MaxPool2D", "AvgPool2D",
           "GlobalAvgPool2D", "Flatten", "Dense", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "BatchNorm2D", "Dropout", "Residual",
           "Concat", "Sequential", "layer_from_config", "Loss", "register_loss",
           "SoftmaxCrossEntropy", "BinaryCrossEntropy", "MeanSquaredError", "Model", "Optimizer",
           "SGD", "Adam"]
