"""Publishers: deliver a finished feed file to a destination (file, sftp, ftp, http[s]).

One module per transport, chosen from ``PUBLISHERS`` by URL scheme (Scrapy's storages).
"""
