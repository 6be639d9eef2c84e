"""The placement's fields in groups, as the policies name them; ``engine.validate.placement`` joins them into
the one ``Placement`` model, in the order the API, the form and the CSV columns show them."""
