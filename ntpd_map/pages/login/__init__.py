"""The sign-in page (/login): plain HTML and a form, so it works without JavaScript, on any screen."""
