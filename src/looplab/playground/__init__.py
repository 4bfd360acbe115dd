"""The playground: a local web page where looplab's real training loop runs live on 2-D data,
TensorFlow Playground's controls and more, and every run exports as a PyTorch script.

``looplab playground`` serves it (``server.py``, FastAPI under uvicorn, imported only by that
command). A session's run is looplab's own ``fit`` in a worker thread (``session.py``), driven
by two callbacks (``control.py``); ``frames.py`` computes what the page draws; the page itself
is plain JavaScript and canvas in ``static/``, shipped in the package.
"""
