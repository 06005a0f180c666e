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
    settings    every setting of a run, written once (the UI, links, the CLI and the configs use it)
    cli         the command lines (nn.train, nn.data, nn.predict, nn.evaluate, nn.trace)
    download    fetch full MNIST / Fashion-MNIST, checked by SHA-256
    files       atomic writes
    verdict     what a finished run did: learned, stuck, diverged, overfitting, still improving
    trace       one training step, layer by layer, with its numbers
    race        the optimisers on 2-D loss surfaces
    features    extra input features for 2-D points (x1², x1·x2, sin x1, ...)
    neurons     every neuron of a 2-D net over the input plane; neurons switched off by hand
    evaluate    accuracy, confusion and calibration of a model on a dataset (``python -m nn.evaluate``)
    calibrate   temperature scaling and expected calibration error
    robustness  distortions of digits and accuracy-versus-distortion curves
    hidden_map  a PCA map of the last hidden layer
    synth       synthetic mouse-drawn and paper digits, for evaluation only (never trained on)

The package never imports streamlit: it runs the same in a notebook, a test or the CLI.
"""
