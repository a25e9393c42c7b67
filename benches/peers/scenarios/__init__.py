"""One module per scenario; see harnesslib/model.py for the interface."""
