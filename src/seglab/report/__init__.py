"""The HTML report of a training run (:func:`seglab.report.html.build_report`), built from the
run folder's files: config, data, curves (``train/plots.py`` draws them during training),
verdict, metrics and galleries."""
