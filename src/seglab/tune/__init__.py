"""``seglab tune``: a study of short training runs over the seed's choices, on Optuna
(:mod:`seglab.tune.study`), its search space (:mod:`~seglab.tune.space`), storage
(:mod:`~seglab.tune.storage`), pruning (:mod:`~seglab.tune.pruning`) and result files
(:mod:`~seglab.tune.results`)."""
