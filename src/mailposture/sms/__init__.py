"""SMS spam and smishing analysis: verdicts with reasons (rules + a character n-gram text model), campaigns, and
the report to share. Layers: normalize, brands, lookalike, lures, classifier -> verdict -> campaigns, report;
resolve (--resolve: HTTP redirects and the DNS engine) and cli at the edges."""
