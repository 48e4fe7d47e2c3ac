"""What a person sees: the terminal console and results file, the state views, the annotated video."""
