"""Jobs: the one implementation of each thing a :class:`~restyle.Stylizer` does to many frames.

* :mod:`restyle.jobs.folder` — image files and folders into an output folder, resumable, every
  output written atomically, one bad file recorded and the others still written.
* :mod:`restyle.jobs.stream` — an iterable of frames, lazily, in order; frames finished before
  an error in the source are delivered before the error is raised.

The video job lives in :mod:`restyle.video.pipeline`. ``Stylizer``'s methods and the CLI both call
these; neither has a second route.
"""
