"""Real-browser tests: Playwright driving Debian's chromium against the live app."""
