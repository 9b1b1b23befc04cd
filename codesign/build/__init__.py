"""`codesign build`: named, resumable steps that turn a spec and a bundle into verified firmware."""
