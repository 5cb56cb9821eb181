"""Browser pages for records: the deal page, record lists, contact/company pages and the dashboard."""
