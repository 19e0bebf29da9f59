"""Portrait studio: a face photo in, an old-master portrait out, all in memory.

Data flows one way: :mod:`portrait.inputs` (decode) → :mod:`portrait.detect` (MTCNN) →
:mod:`portrait.align` (5-point similarity) → :mod:`portrait.model` (generator, chosen through
:mod:`portrait.styles`) → :mod:`portrait.pipeline` ties them together for the app.
"""
