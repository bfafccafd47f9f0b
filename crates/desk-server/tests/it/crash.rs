// crash safety test: see below
