"""ui: what the pages share. One idea per module; no numerics of its own (that is nn's job).

    navigation      through_app: a first visitor's direct link goes through app.py's navigation
    shared          read-only things every session shares: the shipped model, datasets, the model list
    text            plain: text from a link or a file shown as text, never as Markdown
    widgets         a widget for any setting of nn/settings.py's table
    train_settings  the Train page's Settings, their defaults and their link (URL codec)
    train_sidebar   the Train page's sidebar, built from the settings table
    run_protocol    the typed requests and replies between the Train page and its training process
    run_client      LiveRun: a training process driven from the page
    train_worker    the training process itself: a Trainer answering requests between slices
    train_views     the Train page's live numbers and looks inside the network
    train_charts    plotly figures and pictures of a run (curves, decision regions, histograms...)
    live_chart      a plotly chart updated in place (plotly.js's react) instead of remounted
    init_charts     the Weight-init page's histograms and loss curves
    draw_charts     the Draw page's probability bars and pictures

Nothing here keeps per-user state in a module global: that lives in st.session_state.
"""
