"""What every layer shares, with one home each: the ignore index (:mod:`.constants`), option
checks (:mod:`.checks`), array helpers (:mod:`.arrays`: float conversion, channel matching,
resizing, padding and rounding up to a stride, probabilities), file naming and atomic writes
(:mod:`.files`), drawing overlays (:mod:`.overlay`) and progress bars (:mod:`.progress`).

``seglab.core`` imports nothing else of seglab but :mod:`seglab.errors`; heavy libraries are
imported inside the functions that need them.
"""
