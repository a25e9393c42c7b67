mod chunked;
