"""Reading a placement book: CSV and Excel into a table of text cells with the spreadsheet's row numbers, column names
as people write them, the problems found in it, and a synthetic sample book."""
