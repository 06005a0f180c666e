"""ui: what the pages share. One idea per module; no numerics of its own (that is nn's job).

    navigation      through_app: a first visitor's direct link goes through app.py's navigation
    shared          read-only things every session shares: the shipped model, datasets, the model list
    text            plain: text from a link or a file shown as text, never as Markdown
    widgets         a widget for any setting of nn/settings.py's table
    train_settings  the Train page's Settings, their defaults and their link (URL codec)
    train_sidebar   the Train page's sidebar, built from the settings table
    lessons         guided experiments as links: locked and hidden settings, the lesson card, a teacher's link
    train_data      the data a Train run trains on, prepared once and shared read-only by every session
    train_runs      a session's Train runs: what each button does, what became of the run, restart markers
    run_compare     the Train page's kept runs overlaid, tabled and restored
    run_protocol    the typed requests and replies between the Train page and its training process
    run_client      LiveRun: a training process driven from the page
    run_slots       how many runs may train at once, the queue, and runs nobody looks at any more
    server_load     how busy this server process is, for the live views' redraw interval
    processes       the fork server; one-off heavy jobs in their own process (run_in_process)
    train_worker    the training process itself: a Trainer answering requests between slices
    train_views     the Train page's live numbers and looks inside the network
    network_picture the network picture: every neuron's output over the plane, links by weight (figures)
    network_panel   the Train page's "The network" look: the picture, and a picked neuron to touch
    backprop_panel  the Train page's "One training step, with numbers" (nn.trace), and its worksheet
    race_charts     the Optimisers page's paths over loss-surface contours (nn.race)
    train_charts    plotly figures and pictures of a run (curves, decision regions, histograms...)
    live_chart      a plotly chart updated in place (plotly.js's react) instead of remounted
    init_charts     the Weight-init page's histograms and loss curves
    init_settings   the Weight-init page's settings and their link; init_views: its words and tables
    run_history     a session's past runs: kept, compared, labelled by what differed, restored
    model_lab       the Draw page's model lab: about the model, robustness lab, where is my digit
    lab_charts      its figures (reliability diagram, robustness curves, hidden-layer map)
    draw_session    the Draw page's session: the canvas, the taught copy, Teach it / Forget / Save
    draw_views      what the Draw page shows from a reading: the photo, what the network sees, Teach it
    draw_charts     the Draw page's probability bars and pictures

Nothing here keeps per-user state in a module global: that lives in st.session_state.
"""
