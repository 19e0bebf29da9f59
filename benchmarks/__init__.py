"""Speed measurements of the real pipeline, and the peer model it is compared against."""
