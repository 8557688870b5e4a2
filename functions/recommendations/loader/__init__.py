"""Recommendations loader: one generation into DynamoDB, published by a pointer swap."""
