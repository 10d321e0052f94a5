-- Paces each wrk connection to RATE requests/s (wrk's delay() hook), so -c N gives N x RATE req/s.
local rate = tonumber(os.getenv("RATE") or "250")
function delay()
  return 1000 / rate
end
