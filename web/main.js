// Shows whether the server answers /healthz; the chat client arrives with the rooms feature.
const status = document.getElementById("health");

async function checkHealth() {
  try {
    const response = await fetch("/healthz");
    const body = await response.json();
    status.textContent = response.ok ? `Server ${body.status}, version ${body.version}.` : "Server unhealthy.";
  } catch (error) {
    status.textContent = "Server unreachable.";
  }
}

checkHealth();
