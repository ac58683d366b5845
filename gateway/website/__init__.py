"""Static websites: the bucket's WebsiteConfiguration and the website endpoints that serve it."""
