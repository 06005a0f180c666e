"""nn: a small, readable neural-network engine written by hand in NumPy.

Modules, one idea each:
    layers      Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, BatchNorm (forward + backward)
    losses      softmax cross-entropy, mean squared error, sigmoid binary cross-entropy
    init        weight initialisers (normal with a given std, Xavier/Glorot, He)
    optim       SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam and learning-rate schedules
    model       the MLP: built from a plain config, forward/backward, save/load
    train       a training loop a UI can drive step by step; ``python -m nn.train``
    data        toy 2-D sets, the bundled MNIST sample, full MNIST (IDX files, download)
    preprocess  any drawing or photo -> the 28x28 input an MNIST net expects
    augment     random distortions of digit images for training
    gradcheck   numerical gradients (central differences)
    initexp     the weight-initialisation experiment (activation/gradient histograms per layer)
    explain     what the Draw page shows: probabilities, saliency, "not sure", teach-it fine-tuning
    metrics     confusion matrix, decision-boundary grids, histograms for the Train page
    predict     ``python -m nn.predict IMAGE...``: one JSON line per image
    synth       synthetic mouse-drawn and paper digits, for evaluation only (never trained on)

The package never imports streamlit: it runs the same in a notebook, a test or the CLI.
"""
