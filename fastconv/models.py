"""The course's models, in its notation, and the classic CNNs as builders.

Dense models (X of shape (n_x, m), Y of shape (1, m), W[l] of shape
(n[l], n[l-1]), b[l] of shape (n[l], 1)):
  LogisticRegression, ShallowNN (one hidden layer), DeepNN(layer_dims).
CNN builders returning a ready nn.Model (NHWC input, softmax cross-entropy on
the logits, Adam with learning rate 1e-3):
  lenet5, alexnet, vgg16, resnet18, resnet34, resnet50, resnext50_32x4d,
  mobilenet_v1, inception (GoogLeNet), and small variants for 32x32 inputs
  (small_resnet, small_inception).
"""
import numpy as np

from . import nn
from .activations import relu, relu_backward, sigmoid, tanh
from .linalg import matmul


# ---- dense models of the course ------------------------------------------------
def _binary_cost(a, y):
    """The cross-entropy cost J = -1/m sum(y log a + (1 - y) log(1 - a))."""
    a = np.clip(a, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))


def _as_xy(X, Y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_x, m), got {X.shape}")
    if Y is None:
        return X, None
    Y = np.asarray(Y, dtype=np.float64).reshape(1, -1)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have shape (1, m) with m = {X.shape[1]}, got {np.shape(Y)}")
    return X, Y


class LogisticRegression:
    """Logistic regression as a one-neuron network: A = sigmoid(w^T X + b),
    trained by batch gradient descent with dw = X (A - Y)^T / m, db = sum(A - Y) / m."""

    def __init__(self, learning_rate=0.005, num_iterations=2000, print_cost=False):
        self.learning_rate = learning_rate
        self.num_iterations = num_iterations
        self.print_cost = print_cost
        self.parameters = {}
        self.costs = []

    def propagate(self, X, Y):
        """Cost and gradients {"dw", "db"} at the current parameters."""
        w, b = self.parameters["w"], self.parameters["b"]
        m = X.shape[1]
        A = sigmoid(matmul(w.T, X) + b)
        dZ = A - Y
        return _binary_cost(A, Y), {"dw": matmul(X, dZ.T) / m, "db": float(np.sum(dZ) / m)}

    def fit(self, X, Y, learning_rate=None, num_iterations=None):
        X, Y = _as_xy(X, Y)
        lr = self.learning_rate if learning_rate is None else learning_rate
        iterations = self.num_iterations if num_iterations is None else num_iterations
        self.parameters = {"w": np.zeros((X.shape[0], 1)), "b": 0.0}
        self.costs = []
        for i in range(iterations):
            cost, grads = self.propagate(X, Y)
            self.parameters["w"] = self.parameters["w"] - lr * grads["dw"]
            self.parameters["b"] = self.parameters["b"] - lr * grads["db"]
            if i % 100 == 0:
                self.costs.append(cost)
                if self.print_cost:
                    print(f"cost after iteration {i}: {cost:.6f}")
        return self

    def predict_proba(self, X):
        X, _ = _as_xy(X)
        return sigmoid(matmul(self.parameters["w"].T, X) + self.parameters["b"])

    def predict(self, X):
        """0/1 predictions of shape (1, m)."""
        return (self.predict_proba(X) > 0.5).astype(np.int64)


class DeepNN:
    """An L-layer network [LINEAR -> hidden activation] * (L-1) -> LINEAR -> SIGMOID
    for binary classification, trained by batch gradient descent.
    layer_dims = [n_x, n[1], ..., n[L]] with n[L] = 1."""

    def __init__(self, layer_dims, learning_rate=0.0075, num_iterations=3000,
                 activation="relu", seed=1, print_cost=False):
        if len(layer_dims) < 2:
            raise ValueError("DeepNN: layer_dims needs at least the input and output sizes")
        if activation not in ("relu", "tanh"):
            raise ValueError(f"DeepNN: activation must be 'relu' or 'tanh', got {activation!r}")
        self.layer_dims = [int(n) for n in layer_dims]
        self.learning_rate = learning_rate
        self.num_iterations = num_iterations
        self.activation = activation
        self.seed = seed
        self.print_cost = print_cost
        self.parameters = {}
        self.costs = []

    @property
    def L(self):
        return len(self.layer_dims) - 1

    def initialize_parameters(self):
        """W[l] ~ N(0, 1/n[l-1]) (scaled for the hidden activation), b[l] = 0."""
        rng = np.random.default_rng(self.seed)
        scale = 2.0 if self.activation == "relu" else 1.0
        self.parameters = {}
        for l in range(1, self.L + 1):
            n, n_prev = self.layer_dims[l], self.layer_dims[l - 1]
            self.parameters[f"W{l}"] = rng.standard_normal((n, n_prev)) * np.sqrt(scale / n_prev)
            self.parameters[f"b{l}"] = np.zeros((n, 1))

    def forward(self, X):
        """A[L] and the caches (A[l-1], Z[l]) of every layer."""
        A, caches = X, []
        for l in range(1, self.L + 1):
            Z = matmul(self.parameters[f"W{l}"], A) + self.parameters[f"b{l}"]
            caches.append((A, Z))
            if l == self.L:
                A = sigmoid(Z)
            else:
                A = relu(Z) if self.activation == "relu" else tanh(Z)
        return A, caches

    def backward(self, AL, Y, caches):
        """Gradients dW[l], db[l]: dZ[L] = A[L] - Y, dW = dZ A[l-1]^T / m,
        db = sum(dZ) / m, dA[l-1] = W^T dZ, dZ = dA * g'(Z)."""
        m = Y.shape[1]
        grads = {}
        dZ = AL - Y
        for l in range(self.L, 0, -1):
            A_prev, Z = caches[l - 1]
            grads[f"dW{l}"] = matmul(dZ, A_prev.T) / m
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
            if l > 1:
                dA = matmul(self.parameters[f"W{l}"].T, dZ)
                Z_prev = caches[l - 2][1]
                dZ = relu_backward(dA, Z_prev) if self.activation == "relu" \
                    else dA * (1 - np.tanh(Z_prev) ** 2)
        return grads

    def fit(self, X, Y, learning_rate=None, num_iterations=None):
        X, Y = _as_xy(X, Y)
        if X.shape[0] != self.layer_dims[0]:
            raise ValueError(f"X has {X.shape[0]} features but layer_dims[0] = {self.layer_dims[0]}")
        lr = self.learning_rate if learning_rate is None else learning_rate
        iterations = self.num_iterations if num_iterations is None else num_iterations
        self.initialize_parameters()
        self.costs = []
        for i in range(iterations):
            AL, caches = self.forward(X)
            grads = self.backward(AL, Y, caches)
            for l in range(1, self.L + 1):
                self.parameters[f"W{l}"] -= lr * grads[f"dW{l}"]
                self.parameters[f"b{l}"] -= lr * grads[f"db{l}"]
            if i % 100 == 0 or i == iterations - 1:
                self.costs.append(_binary_cost(AL, Y))
                if self.print_cost:
                    print(f"cost after iteration {i}: {self.costs[-1]:.6f}")
        return self

    def predict_proba(self, X):
        X, _ = _as_xy(X)
        return self.forward(X)[0]

    def predict(self, X):
        """0/1 predictions of shape (1, m)."""
        return (self.predict_proba(X) > 0.5).astype(np.int64)


class ShallowNN(DeepNN):
    """The course's planar-data network: one hidden layer of n_h units (tanh by
    default) and a sigmoid output; parameters W1 (n_h, n_x), b1, W2 (1, n_h), b2."""

    def __init__(self, n_x, n_h=4, activation="tanh", learning_rate=1.2, num_iterations=10000,
                 seed=2, print_cost=False):
        super().__init__([n_x, n_h, 1], learning_rate, num_iterations, activation, seed,
                         print_cost)


# ---- CNN builders --------------------------------------------------------------------
def _classifier_model(network, input_shape, learning_rate=0.001):
    """Softmax cross-entropy on logits, Adam."""
    return nn.Model(network, nn.SoftmaxCrossEntropy(), nn.Adam(learning_rate=learning_rate),
                    input_shape)


def lenet5(num_classes=10, in_channels=1, input_size=32, activation="relu", seed=0):
    """LeNet-5: conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> 120 -> 84 -> classes.
    61,706 parameters for 10 classes on 32x32x1.  Max pooling and ReLU by default
    (activation='tanh' with average pooling gives the 1998 original)."""
    nn.seed(seed)
    pool = nn.AvgPool2D if activation == "tanh" else nn.MaxPool2D
    side = ((input_size - 4) // 2 - 4) // 2
    net = nn.Sequential(
        nn.Conv2D(in_channels, 6, 5, activation=activation), pool(2),
        nn.Conv2D(6, 16, 5, activation=activation), pool(2),
        nn.Flatten(),
        nn.Dense(16 * side * side, 120, activation=activation),
        nn.Dense(120, 84, activation=activation),
        nn.Dense(84, num_classes))
    return _classifier_model(net, (input_size, input_size, in_channels))


def alexnet(num_classes=1000, in_channels=3, input_size=224, seed=0):
    """AlexNet as in torchvision (61,100,840 parameters for 1000 classes)."""
    nn.seed(seed)
    conv = lambda c, k, f, s=1, p=0: nn.Conv2D(c, k, f, s, p, activation="relu")  # noqa: E731
    features = [conv(in_channels, 64, 11, 4, 2), nn.MaxPool2D(3, 2),
                conv(64, 192, 5, 1, 2), nn.MaxPool2D(3, 2),
                conv(192, 384, 3, 1, 1), conv(384, 256, 3, 1, 1), conv(256, 256, 3, 1, 1),
                nn.MaxPool2D(3, 2)]
    h = nn.Sequential(*features).output_shape((input_size, input_size, in_channels))
    net = nn.Sequential(*features, nn.Flatten(), nn.Dropout(0.5),
                        nn.Dense(int(np.prod(h)), 4096, activation="relu"), nn.Dropout(0.5),
                        nn.Dense(4096, 4096, activation="relu"), nn.Dense(4096, num_classes))
    return _classifier_model(net, (input_size, input_size, in_channels))


def vgg16(num_classes=1000, in_channels=3, input_size=224, seed=0):
    """VGG-16 (configuration D; 138,357,544 parameters for 1000 classes)."""
    nn.seed(seed)
    layers, c = [], in_channels
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2D(2))
        else:
            layers.append(nn.Conv2D(c, v, 3, padding=1, activation="relu"))
            c = v
    h = nn.Sequential(*layers).output_shape((input_size, input_size, in_channels))
    net = nn.Sequential(*layers, nn.Flatten(),
                        nn.Dense(int(np.prod(h)), 4096, activation="relu"), nn.Dropout(0.5),
                        nn.Dense(4096, 4096, activation="relu"), nn.Dropout(0.5),
                        nn.Dense(4096, num_classes))
    return _classifier_model(net, (input_size, input_size, in_channels))


def _conv_bn(c_in, c_out, k, stride=1, relu=True, groups=1):
    """conv (no bias) -> batch norm (-> ReLU)."""
    layers = [nn.Conv2D(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2D(c_out)]
    return layers + ([nn.ReLU()] if relu else [])


def _basic_block(c_in, c_out, stride):
    body = nn.Sequential(*_conv_bn(c_in, c_out, 3, stride), *_conv_bn(c_out, c_out, 3, relu=False))
    shortcut = None if stride == 1 and c_in == c_out else \
        nn.Sequential(*_conv_bn(c_in, c_out, 1, stride, relu=False))
    return nn.Residual(body, shortcut)


def _bottleneck(c_in, width, stride, groups=1, group_width=64):
    """1x1 -> 3x3 (in `groups` groups of `group_width * width / 64` channels:
    ResNeXt's cardinality; groups=1, group_width=64 is ResNet's) -> 1x1 to 4 width."""
    c_out, inner = 4 * width, groups * (group_width * width // 64)
    body = nn.Sequential(*_conv_bn(c_in, inner, 1),
                         *_conv_bn(inner, inner, 3, stride, groups=groups),
                         *_conv_bn(inner, c_out, 1, relu=False))
    shortcut = None if stride == 1 and c_in == c_out else \
        nn.Sequential(*_conv_bn(c_in, c_out, 1, stride, relu=False))
    return nn.Residual(body, shortcut)


def _resnet(blocks, bottleneck, num_classes, in_channels, input_size, seed, small, groups=1,
            group_width=64):
    nn.seed(seed)
    if small:     # 32x32 inputs: a 3x3 stem, no max pool (as for CIFAR)
        layers = [*_conv_bn(in_channels, 64, 3)]
    else:
        layers = [*_conv_bn(in_channels, 64, 7, 2), nn.MaxPool2D(3, 2, 1)]
    c = 64
    for stage, count in enumerate(blocks):
        width = 64 * 2 ** stage
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            if bottleneck:
                layers.append(_bottleneck(c, width, stride, groups, group_width))
                c = 4 * width
            else:
                layers.append(_basic_block(c, width, stride))
                c = width
    layers += [nn.GlobalAvgPool2D(), nn.Dense(c, num_classes)]
    return _classifier_model(nn.Sequential(*layers), (input_size, input_size, in_channels))


def resnet18(num_classes=1000, in_channels=3, input_size=224, seed=0, small=False):
    """ResNet-18 (11,689,512 parameters for 1000 classes); small=True: 3x3 stem for 32x32."""
    return _resnet([2, 2, 2, 2], False, num_classes, in_channels, input_size, seed, small)


def resnet34(num_classes=1000, in_channels=3, input_size=224, seed=0, small=False):
    """ResNet-34 (21,797,672 parameters for 1000 classes)."""
    return _resnet([3, 4, 6, 3], False, num_classes, in_channels, input_size, seed, small)


def resnet50(num_classes=1000, in_channels=3, input_size=224, seed=0, small=False):
    """ResNet-50 with bottleneck blocks (25,557,032 parameters for 1000 classes)."""
    return _resnet([3, 4, 6, 3], True, num_classes, in_channels, input_size, seed, small)


def resnext50_32x4d(num_classes=1000, in_channels=3, input_size=224, seed=0, small=False):
    """ResNeXt-50 32x4d (Xie et al. 2017): ResNet-50's stages with the 3x3
    convolution of each bottleneck split into 32 groups of 4 * 2^stage
    channels (25,028,904 parameters for 1000 classes)."""
    return _resnet([3, 4, 6, 3], True, num_classes, in_channels, input_size, seed, small,
                   groups=32, group_width=4)


# MobileNetV1's separable blocks: (output channels, stride of the depthwise 3x3)
_MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                 (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def mobilenet_v1(num_classes=1000, in_channels=3, input_size=224, width_multiplier=1.0,
                 dropout=1e-3, seed=0):
    """MobileNetV1 (Howard et al. 2017): a 3x3 stride-2 stem of 32 channels, then
    13 depthwise-separable blocks (3x3 depthwise conv -> BN -> ReLU -> 1x1 conv
    -> BN -> ReLU), global pooling, dropout and the classifier.  Channel counts
    are scaled by width_multiplier (the paper's alpha).  4,231,976 trainable
    parameters for 1000 classes at width 1.0."""
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)) \
            or not width_multiplier > 0:
        raise ValueError(f"mobilenet_v1: width_multiplier must be a positive number, got "
                         f"{width_multiplier!r}")
    nn.seed(seed)
    scaled = lambda channels: max(1, int(channels * width_multiplier))  # noqa: E731
    c = scaled(32)
    layers = [*_conv_bn(in_channels, c, 3, 2)]
    for channels, stride in _MOBILENET_V1:
        out = scaled(channels)
        layers += [*_conv_bn(c, c, 3, stride, groups=c), *_conv_bn(c, out, 1)]
        c = out
    layers += [nn.GlobalAvgPool2D(), nn.Dropout(dropout), nn.Dense(c, num_classes)]
    return _classifier_model(nn.Sequential(*layers), (input_size, input_size, in_channels))


def small_resnet(num_classes=10, in_channels=3, input_size=32, width=16, seed=0):
    """A ResNet for small images: 3x3 stem of `width` channels, three stages of
    two basic blocks (width, 2 width, 4 width), global pooling, a classifier."""
    nn.seed(seed)
    layers, c = [*_conv_bn(in_channels, width, 3)], width
    for stage in range(3):
        for i in range(2):
            layers.append(_basic_block(c, width * 2 ** stage, 2 if stage and not i else 1))
            c = width * 2 ** stage
    layers += [nn.GlobalAvgPool2D(), nn.Dense(c, num_classes)]
    return _classifier_model(nn.Sequential(*layers), (input_size, input_size, in_channels))


def inception_module(c_in, n1, n3_reduce, n3, n5_reduce, n5, pool_proj):
    """GoogLeNet's Inception module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1,
    joined on channels (n1 + n3 + n5 + pool_proj outputs)."""
    conv = lambda a, b, k: nn.Conv2D(a, b, k, padding=k // 2, activation="relu")  # noqa: E731
    return nn.Concat(nn.Sequential(conv(c_in, n1, 1)),
                     nn.Sequential(conv(c_in, n3_reduce, 1), conv(n3_reduce, n3, 3)),
                     nn.Sequential(conv(c_in, n5_reduce, 1), conv(n5_reduce, n5, 5)),
                     nn.Sequential(nn.MaxPool2D(3, 1, 1), conv(c_in, pool_proj, 1)))


_GOOGLENET = {  # name: (n1, n3_reduce, n3, n5_reduce, n5, pool_proj), from the paper's table 1
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _stack_inception(names, c):
    layers = []
    for name in names:
        if name == "M":
            layers.append(nn.MaxPool2D(3, 2, 1))
            continue
        spec = _GOOGLENET[name]
        layers.append(inception_module(c, *spec))
        c = spec[0] + spec[2] + spec[4] + spec[5]
    return layers, c


def inception(num_classes=1000, in_channels=3, input_size=224, seed=0):
    """GoogLeNet (Inception v1, Szegedy et al. 2014) without the auxiliary
    classifiers: stem, inception 3a-3b, 4a-4e, 5a-5b, global pooling, dropout,
    classifier."""
    nn.seed(seed)
    conv = lambda a, b, k, s=1: nn.Conv2D(a, b, k, s, k // 2, activation="relu")  # noqa: E731
    stem = [conv(in_channels, 64, 7, 2), nn.MaxPool2D(3, 2, 1), conv(64, 64, 1),
            conv(64, 192, 3), nn.MaxPool2D(3, 2, 1)]
    body, c = _stack_inception(["3a", "3b", "M", "4a", "4b", "4c", "4d", "4e", "M", "5a", "5b"], 192)
    net = nn.Sequential(*stem, *body, nn.GlobalAvgPool2D(), nn.Dropout(0.4),
                        nn.Dense(c, num_classes))
    return _classifier_model(net, (input_size, input_size, in_channels))


def small_inception(num_classes=10, in_channels=3, input_size=32, seed=0):
    """Stacked inception modules for 32x32 inputs: a 3x3 stem, modules 3a, 3b,
    a pool, 4a, global pooling and a classifier."""
    nn.seed(seed)
    stem = [nn.Conv2D(in_channels, 192, 3, padding=1, activation="relu")]
    body, c = _stack_inception(["3a", "3b", "M", "4a"], 192)
    net = nn.Sequential(*stem, *body, nn.GlobalAvgPool2D(), nn.Dense(c, num_classes))
    return _classifier_model(net, (input_size, input_size, in_channels))
