"""The learner's side of the web: public course pages (found by search engines, shared by
friends), their sitemap and robots.txt. Pages call the same core services as the commands."""
