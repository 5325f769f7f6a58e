"""Lightning tasks: the training policy (losses, EMA, schedules, batch mixing) for each model family."""
