package crashtest

// Loop is a function that posts step 1..input.steps to input.sink, each
// followed by a checkpoint and an in-place sleep of input.pause: a run is
// always between two steps, and a resumed one replays what was committed.
// Its journal is (http.request, sleep) × steps.
const Loop = `config := {"timeout": "120s"}

func main(input) {
  for s := 1; s <= input.steps; s++ {
    http.post(input.sink, {"json": {"k": input.k, "step": s}})
    checkpoint()
    sleep(input.pause)
  }
  return {"k": input.k, "steps": input.steps}
}
`
