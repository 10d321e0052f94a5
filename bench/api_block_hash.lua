-- GET /api/v1/blocks/{hash} over the hashes in $HASHES (one per line), round robin per thread.
local hashes = {}
for line in io.lines(os.getenv("HASHES") or "/tmp/api_rest_hashes.txt") do
  hashes[#hashes + 1] = line
end
local i = math.random(#hashes)
function request()
  i = i % #hashes + 1
  return wrk.format("GET", "/api/v1/blocks/" .. hashes[i])
end
