//! The message lane: a thread with a single-threaded runtime of its own, for the tasks on the
//! way from a stored webhook to the consoles (the inbox processor and the hub's tailer).
//!
//! Applying a batch is 9-11 round trips to SQLite's writer thread, and after each one the
//! processor waits to be polled again. On the main runtime it waited behind the HTTP and SSE
//! tasks (a thousand consoles, a thousand webhooks a second) every time. Here it is the only
//! task woken: at 1,000 messages/s over 1,000 streams, the median webhook-to-console time of
//! messages to open chats fell from 5.6-6.5 ms to 5.0 ms (two back-to-back pairs of runs).

use std::future::Future;

use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

/// The lane. Its thread ends once the lane is dropped (or [`Lane::close`]d) and every task
/// spawned on it has ended.
#[derive(Debug)]
pub struct Lane {
    handle: Handle,
    tasks: TaskTracker,
}

impl Lane {
    /// Starts the lane's thread, named `name`; `tasks` tracks it, so waiting for `tasks` waits
    /// for the lane's tasks too.
    pub fn start(name: &str, tasks: &TaskTracker) -> std::io::Result<Lane> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let lane_tasks = TaskTracker::new();
        let ended = lane_tasks.clone();
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(ended.wait());
                // Sent only now: the runtime's own tasks (sqlx returning connections to their
                // pools) have run as far as they will.
                drop(runtime);
                let _ = done.send(());
            })?;
        tasks.spawn(async move {
            // An error means the thread panicked: it has ended either way.
            let _ = finished.await;
        });
        Ok(Lane {
            handle,
            tasks: lane_tasks,
        })
    }

    /// Runs `task` on the lane.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn_on(task, &self.handle);
    }

    /// No more tasks: the thread ends when those spawned have.
    pub fn close(&self) {
        self.tasks.close();
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_the_lanes_thread_and_waiting_waits_for_them() {
        let tasks = TaskTracker::new();
        let lane = Lane::start("test-lane", &tasks).expect("lane");
        let (tx, rx) = tokio::sync::oneshot::channel();
        lane.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send(name);
        });
        drop(lane);
        tasks.close();
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.wait())
            .await
            .expect("the lane's thread ends once its tasks have");
        assert_eq!(rx.await.expect("ran").as_deref(), Some("test-lane"));
    }
}
